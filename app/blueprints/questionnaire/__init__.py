"""The adaptive questionnaire: the next question for the answers so far, asked of the AI Service."""
