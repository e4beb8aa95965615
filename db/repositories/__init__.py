"""All SQL lives in these repositories; services call them and never build queries."""
