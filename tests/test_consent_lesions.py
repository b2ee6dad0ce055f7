"""The consent policy where issue #17's lesions call the AI: the re-analysis of an earlier
visit's photo needs that visit's AI-analysis consent under CONSENT_POLICY=enforced, and
``flask demo seed`` (whose patients are invented) records it, so it runs under every policy."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import Case, CaseConsent, Reanalysis, User
from app.services import consent
from app.services.demo import DEMO_CASES, DEMO_EMAIL
from tests.lesion_visits import seen_three_times


def test_reanalysis_of_an_earlier_visit_needs_its_ai_consent(
    ai_app, ai_client, enforced_app, make_user, api_headers
):
    owner = make_user()
    headers = api_headers(owner)
    lesion_id, (v1, v2) = seen_three_times(ai_app, ai_client, headers, owner, count=2)
    url = f"/api/lesions/{lesion_id}/compare/reanalyse"
    body = {"from": str(v1), "to": str(v2)}
    enforced = enforced_app.test_client()

    refused = enforced.post(url, json=body, headers=headers)
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert (error["code"], error["details"]["scope"]) == ("consent_required", "ai_analysis")
    assert error["details"]["case_id"] == str(v1)

    with enforced_app.app_context():
        actor = db.session.get(User, owner.id)
        consent.record_consent(actor=actor, case_id=v1, decisions={"ai_analysis": "granted"})
        assert db.session.scalar(select(func.count()).select_from(Reanalysis)) == 0
        db.session.remove()
    # With the consent, the re-analysis gets past it (both visits: the same model here).
    allowed = enforced.post(url, json=body, headers=headers)
    assert allowed.get_json()["error"]["code"] == "same_model"


def test_demo_seed_runs_under_the_enforced_policy(enforced_app):
    result = enforced_app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    with enforced_app.app_context():
        owner = db.session.scalar(select(User).where(User.email == DEMO_EMAIL))
        demo_cases = db.session.scalars(select(Case).where(Case.owner_id == owner.id)).all()
        analysed = {spec.reference for spec in DEMO_CASES if spec.photo is not None}
        for case in demo_cases:
            decisions = {
                record.scope: record.decision
                for record in db.session.scalars(
                    select(CaseConsent).where(CaseConsent.case_id == case.id)
                )
            }
            if case.patient_reference in analysed or case.status != "questionnaire":
                assert decisions == {"ai_analysis": "granted", "image_storage": "granted"}, (
                    case.patient_reference
                )
                assert case.status in ("analyzed", "reviewed"), case.patient_reference
            else:
                assert decisions == {}  # not analysed: the consent stays to be asked
        db.session.remove()
    again = enforced_app.test_cli_runner().invoke(args=["demo", "seed"])
    assert again.exit_code == 0, again.output
