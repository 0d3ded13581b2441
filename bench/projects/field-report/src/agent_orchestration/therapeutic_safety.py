class TherapeuticValidator:
    def validate(self, text):
        return bool(text)
