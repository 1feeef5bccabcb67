"""Which numbers DynamoDB can hold: up to 38 significant digits, magnitudes from 1E-130 to 9.99...E+125, and 0.

Source: DynamoDB developer guide, "Supported data types and naming rules" (Number). boto3 refuses to send any
other (`decimal.Inexact`, `decimal.Rounded`, `decimal.Overflow`), so the saga checks what it will write first.
"""

from __future__ import annotations

from decimal import Decimal

MAX_SIGNIFICANT_DIGITS = 38
SMALLEST_EXPONENT = -130  # 1E-130, the smallest positive magnitude
LARGEST_ADJUSTED_EXPONENT = 125  # 9.99...E+125, the largest


def dynamodb_number(number: Decimal) -> Decimal:
    """`number` unchanged if DynamoDB can store it exactly; else `ValueError` saying which limit it passes."""
    if not number.is_finite():
        raise ValueError("must be a finite number")
    if number.is_zero():
        return number
    if not SMALLEST_EXPONENT <= number.adjusted() <= LARGEST_ADJUSTED_EXPONENT:
        raise ValueError(f"is outside the magnitudes DynamoDB holds (1E{SMALLEST_EXPONENT} to 9.99...E+125)")
    # Trailing zeros are not significant: DynamoDB stores 1E+40 (1 digit) and hands it back as 41 digits.
    digits = len("".join(map(str, number.as_tuple().digits)).rstrip("0"))
    if digits > MAX_SIGNIFICANT_DIGITS:
        raise ValueError(f"has {digits} significant digits: DynamoDB keeps at most {MAX_SIGNIFICANT_DIGITS}")
    return number
