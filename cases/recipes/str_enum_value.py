"""A str-Enum member, the shape of transformers' TrainingArguments strategies."""
from loadmatrix_fixtures import Precision


def build():
    return {"precision": Precision.BF16}
