"""Networks: trunks and heads (the agent), the NumPy acting mirror, the Decision Transformer."""
