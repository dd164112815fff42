"""`journeyctl test`: sequence test cases (tests/*.yaml in a project) loaded and replayed."""
