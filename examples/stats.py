"""A tiny example for `focal complete`: put the cursor after `return` and ask for the rest."""


def mean(values: list[float]) -> float:
    """Arithmetic mean of a non-empty list."""
    return sum(values) / len(values)


def variance(values: list[float]) -> float:
    """Population variance."""
    m = mean(values)
    return 
