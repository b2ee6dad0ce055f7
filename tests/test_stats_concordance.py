"""Concordance statistics computed for six seeded cases and compared with figures worked out
by hand (below, case by case), through the API, the page, the SVG plot and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from app.extensions import db
from app.models import User
from app.services import diagnosis, outcomes
from app.services.stats import MALIGNANT_ICD10, is_malignant
from tests.fixtures.analysed import analysed_case, differential

A = differential(
    ("Melanoma", "C43.9", 0.85), ("Melanocytic nevus", "D22.9", 0.10), ("SK", "L82", 0.05)
)
B = differential(
    ("Melanocytic nevus", "D22.9", 0.55), ("Melanoma", "C43.9", 0.30), ("SK", "L82", 0.15)
)
C = differential(
    ("SK", "L82", 0.45), ("Basal cell carcinoma", "C44.9", 0.35), ("Melanoma", "C43.9", 0.20)
)
REPORT = date(2026, 11, 20)
#: The visits the reports follow.
VISIT = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)

# (differential, triage, skin type, final diagnosis, agreement given, histology, extra fields)
#   1 II   A urgent  Melanoma (top1)          histology Melanoma C43.9   rank 0 / 0   TP
#   2 II   B routine Melanoma (rank 1)        histology Melanoma C43.5   rank 1 / 1   FN
#   3 IV   B routine Melanocytic nevus (top1) none (final D22.9)         rank 0       TN
#   4 IV   A urgent  Melanocytic nevus (1)    histology Compound nevus   rank 1 / -   FP
#   5 VI   C routine "Pigmented BCC" differs  none, no code              rank -       unknown
#   6 none A urgent  Melanoma (top1), face    none (final C43.9)         rank 0       TP
SEED = [
    (A, "urgent", "II", "Melanoma", None, ("Melanoma", "C43.9"), {}),
    (B, "routine", "II", "Melanoma", None, ("Melanoma", "C43.5"), {}),
    (B, "routine", "IV", "Melanocytic nevus", None, None, {}),
    (A, "urgent", "IV", "Melanocytic nevus", None, ("Compound nevus", "D22.5"), {}),
    (C, "routine", "VI", "Pigmented BCC", "differs", None, {"model_version": "reference-2.0"}),
    (A, "urgent", None, "Melanoma", None, None, {"body_site": "face"}),
]


def rate(hits, total):
    return {"hits": hits, "total": total, "value": hits / total if total else None}


@pytest.fixture
def people(make_user):
    return {
        "dr": make_user(full_name="Dr. Stats"),
        "other": make_user(full_name="Dr. Elsewhere"),
        "admin": make_user(role="admin", full_name="Ada Admin"),
    }


@pytest.fixture
def seeded(app, people):
    with app.app_context():
        actor = db.session.get(User, people["dr"].id)
        for predictions, priority, skin, final, given, histology, extra in SEED:
            fields = {"model_version": "reference-1.0", "body_site": "back", **extra}
            case_id = analysed_case(
                people["dr"],
                predictions=predictions,
                priority=priority,
                fitzpatrick_type=skin,
                visited_at=VISIT,
                **fields,
            )
            diagnosis.review_case(
                actor=actor, case_id=case_id, final_diagnosis=final, agreement=given
            )
            if histology:
                outcomes.record_outcome(
                    actor=actor,
                    case_id=case_id,
                    diagnosis=histology[0],
                    icd10=histology[1],
                    outcome_date=REPORT,
                )
        other = db.session.get(User, people["other"].id)
        case_id = analysed_case(people["other"], predictions=A, priority="urgent")
        diagnosis.review_case(actor=other, case_id=case_id, final_diagnosis="Melanoma")
        db.session.remove()


def test_malignant_set_is_named_and_checked():
    assert {"C43", "C44", "C46", "D03", "D04"} == MALIGNANT_ICD10
    assert is_malignant("c43.9") and is_malignant("D03.5") and is_malignant("C44")
    assert is_malignant("D22.5") is False and is_malignant("L82") is False
    assert is_malignant(None) is None and is_malignant(" ") is None


def test_api_figures_match_the_hand_computed_ones(client, people, api_headers, seeded):
    response = client.get("/api/stats/concordance", headers=api_headers(people["dr"]))
    assert response.status_code == 200, response.get_json()
    got = response.get_json()
    assert (got["reviewed"], got["with_histology"]) == (6, 3)  # Dr. Elsewhere's not counted
    assert got["physician_top1"] == rate(3, 6)  # cases 1, 3, 6
    assert got["physician_top3"] == rate(5, 6)  # all but 5
    assert got["histology_top1"] == rate(1, 3)  # case 1 of 1, 2, 4
    assert got["histology_top3"] == rate(2, 3)  # cases 1, 2
    assert got["sensitivity"] == rate(2, 3)  # malignant 1, 2, 6; referred 1, 6
    assert got["specificity"] == rate(1, 2)  # benign 3, 4; not referred 3
    assert got["unknown_malignancy"] == 1  # case 5
    groups = {row["group"]: row for row in got["by_fitzpatrick"]}
    assert list(groups) == ["I", "II", "III", "IV", "V", "VI", "not recorded"]
    assert (groups["II"]["cases"], groups["II"]["top1"], groups["II"]["top3"]) == (
        2,
        rate(1, 2),
        rate(2, 2),
    )
    assert (groups["IV"]["cases"], groups["IV"]["top1"]) == (2, rate(1, 2))
    assert (groups["VI"]["cases"], groups["VI"]["top3"]) == (1, rate(0, 1))
    assert (groups["not recorded"]["cases"], groups["not recorded"]["top1"]) == (1, rate(1, 1))
    assert groups["I"]["cases"] == 0 and groups["I"]["top1"]["value"] is None
    bins = {round(b["lower"] * 10): b for b in got["calibration"]}
    assert len(bins) == 10
    assert bins[8]["cases"] == 3 and bins[8]["confirmed"] == rate(2, 3)  # 1 yes, 4 no, 6 yes
    assert bins[8]["mean_predicted"] == pytest.approx(0.85)
    assert bins[5]["cases"] == 2 and bins[5]["confirmed"] == rate(1, 2)  # 2 no, 3 yes
    assert bins[4]["cases"] == 1 and bins[4]["confirmed"] == rate(0, 1)  # 5 no
    assert sum(b["cases"] for b in got["calibration"]) == 6
    assert got["malignant_icd10"] == ["C43", "C44", "C46", "D03", "D04"]


@pytest.mark.parametrize(
    ("query", "reviewed"),
    [
        ("fitzpatrick_type=II", 2),
        ("body_site=face", 1),
        ("model_version=reference-2.0", 1),
        (f"since={date.today() + timedelta(days=1)}", 0),
        (f"until={date.today() - timedelta(days=1)}", 0),
        (f"since={date.today()}&until={date.today()}", 6),
    ],
)
def test_api_filters(client, people, api_headers, seeded, query, reviewed):  # noqa: PLR0917
    got = client.get(f"/api/stats/concordance?{query}", headers=api_headers(people["dr"]))
    assert got.status_code == 200, got.get_json()
    assert got.get_json()["reviewed"] == reviewed


def test_physicians_and_admins(client, people, api_headers, seeded):
    mine = api_headers(people["dr"])
    other = f"/api/stats/concordance?physician_id={people['other'].id}"
    assert client.get(other, headers=mine).status_code == 403
    admin = api_headers(people["admin"])
    assert client.get("/api/stats/concordance", headers=admin).get_json()["reviewed"] == 7
    assert client.get(other, headers=admin).get_json()["reviewed"] == 1
    bad = client.get("/api/stats/concordance?fitzpatrick_type=VII", headers=admin)
    assert bad.status_code == 422
    backwards = "/api/stats/concordance?since=2026-12-02&until=2026-12-01"
    assert client.get(backwards, headers=admin).status_code == 422


def test_page_plot_and_csp(client, people, portal_login, seeded):
    portal_login(people["dr"], client)
    response = client.get("/stats?fitzpatrick_type=II")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "2 reviewed cases, 2 with histology" in html
    assert "invented" in html
    assert 'src="/stats/calibration.svg?fitzpatrick_type=II"' in html
    assert "style=" not in html and "<script>" not in html  # the CSP stays: nothing inline
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    plot = client.get("/stats/calibration.svg?fitzpatrick_type=II")
    assert plot.status_code == 200 and plot.mimetype == "image/svg+xml"
    svg = plot.get_data(as_text=True)
    assert "<svg" in svg and "Calibration of the AI" in svg and "n=1" in svg
    assert "<script" not in svg
    page = client.get("/stats?fitzpatrick_type=VII").get_data(as_text=True)
    assert "not understood" in page


def test_cli_prints_the_same_figures(app, client, people, api_headers, seeded):
    result = app.test_cli_runner().invoke(args=["stats", "concordance", "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    admin = client.get("/api/stats/concordance", headers=api_headers(people["admin"]))
    assert printed == admin.get_json()
    table = app.test_cli_runner().invoke(
        args=["stats", "concordance", "--physician-id", str(people["dr"].id)]
    )
    assert table.exit_code == 0, table.output
    assert "Reviewed cases: 6  (with histology: 3)" in table.output
    assert "Sensitivity (refer): 67% (2/3)" in table.output


def test_openapi_lists_the_new_endpoints(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "/api/stats/concordance" in paths and "/api/cases/{case_id}/outcome" in paths


def _newer_analysis(case_id, predictions, model_version):
    """Store a completed analysis of the case, newer than the one its review read (no status
    change: as a re-analysis that completed while the review was being saved leaves it)."""
    import uuid
    from datetime import UTC, datetime

    from app.models import Analysis

    older = db.session.scalars(db.select(Analysis).where(Analysis.case_id == case_id)).first()
    db.session.add(
        Analysis(
            id=uuid.uuid4(),
            case_id=case_id,
            status="completed",
            model_version=model_version,
            predictions=predictions,
            tier="confident",
            confidence=predictions[0]["probability"],
            refer_to_specialist=False,
            highlight_count=0,
            accepted_low_quality=False,
            image_validity=older.image_validity,
            red_flags={**older.red_flags, "urgency": "low"},
            triage={**older.triage, "priority": "routine"},
            urgency="low",
            created_at=datetime.now(UTC) + timedelta(minutes=5),
            completed_at=datetime.now(UTC) + timedelta(minutes=5),
        )
    )
    db.session.commit()


def test_the_figures_use_the_reviewed_analysis_not_a_newer_one(client, app, people, api_headers):
    """Reviewed on analysis A (Melanoma first, urgent: referred); re-analysed after a reopen
    and reviewed again on B; then an analysis like A stored after that review. The figures read the
    analysis each review names (``CaseReview.analysis_id``), never the newest one."""
    from app.services.clinical_record import reviews

    with app.app_context():
        actor = db.session.get(User, people["dr"].id)
        case_id = analysed_case(
            people["dr"], predictions=A, priority="urgent", model_version="reference-1.0"
        )
        diagnosis.review_case(actor=actor, case_id=case_id, final_diagnosis="Melanoma")
        reviews.reopen_case(actor=actor, case_id=case_id, reason="Second photo")
        _newer_analysis(case_id, B, "reference-2.0")  # B: nevus first, Melanoma second
        diagnosis.review_case(actor=actor, case_id=case_id, final_diagnosis="Melanoma")
        _newer_analysis(case_id, A, "reference-3.0")  # Melanoma first again; after the review
        db.session.remove()
    headers = api_headers(people["dr"])
    got = client.get("/api/stats/concordance", headers=headers).get_json()
    assert got["reviewed"] == 1
    assert got["physician_top1"] == rate(0, 1)  # Melanoma is B's second (the newest's first)
    assert got["physician_top3"] == rate(1, 1)
    assert got["calibration"][5]["cases"] == 1  # B's top probability 0.55, not 0.85
    by_model = {
        version: client.get(
            f"/api/stats/concordance?model_version={version}", headers=headers
        ).get_json()["reviewed"]
        for version in ("reference-1.0", "reference-2.0", "reference-3.0")
    }
    assert by_model == {"reference-1.0": 0, "reference-2.0": 1, "reference-3.0": 0}
