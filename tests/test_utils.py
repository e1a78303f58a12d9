"""The declared parameter checks of neuro_igc._utils: constraints, the one message, the error type."""

import numbers

import numpy as np
import pytest

from neuro_igc._utils import (
    NON_NEGATIVE_INT,
    POSITIVE_INT,
    SWITCH,
    Interval,
    InvalidParameterError,
    Options,
    check_option,
    check_param,
    check_params,
)
from neuro_igc.errors import NeuroIGCError


@pytest.mark.parametrize("value", [1, 7, np.int64(3)])
def test_positive_int_accepts_integers(value):
    assert check_param("n", value, POSITIVE_INT) == value


@pytest.mark.parametrize("value", [True, 2.0, "3", None, np.float64(1.0)])
def test_positive_int_refuses_other_types_naming_what_is_expected(value):
    with pytest.raises(InvalidParameterError, match=r"Invalid value for 'n': expected an integer >= 1; got "):
        check_param("n", value, POSITIVE_INT)


def test_out_of_range_number_says_the_range():
    with pytest.raises(ValueError, match=r"^Invalid value for 'n': must be >= 1; got 0\.$"):
        check_param("n", 0, POSITIVE_INT)
    with pytest.raises(ValueError, match=r"must be in \(0, 1\); got 1"):
        check_param("f", 1, Interval(numbers.Real, 0, 1, closed="neither"))
    with pytest.raises(ValueError, match=r"must be in \[0, 1\); got 1\.0"):
        check_param("f", 1.0, Interval(numbers.Real, 0, 1, closed="left"))
    with pytest.raises(ValueError, match=r"must be > 0; got 0"):
        check_param("lr", 0, Interval(numbers.Real, 0, None, closed="neither"))


def test_real_interval_refuses_nan_and_inf():
    for bad in (float("nan"), float("inf")):
        with pytest.raises(InvalidParameterError, match="expected a number"):
            check_param("x", bad, Interval(numbers.Real, 0))


def test_error_is_both_value_and_type_error_and_a_user_error():
    with pytest.raises(InvalidParameterError) as info:
        check_param("n", "a", POSITIVE_INT)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, NeuroIGCError)


def test_switch_is_the_three_way_option_and_booleans_match_only_booleans():
    assert SWITCH.values == ("auto", True, False)
    for ok in ("auto", True, False):
        assert check_param("distributed", ok, SWITCH) is ok
    for bad in (1, 0, "yes", None):
        with pytest.raises(InvalidParameterError, match=r"Invalid value for 'distributed': allowed are 'auto', True, False; got "):
            check_param("distributed", bad, SWITCH)


def test_alternatives_are_listed_together():
    with pytest.raises(InvalidParameterError,
                       match=r"Invalid value for 'density': expected one of 'a', 'b' or an integer >= 1; got 'c'\."):
        check_param("density", "c", Options("a", "b"), POSITIVE_INT)
    assert check_param("size", None, POSITIVE_INT, None) is None


def test_hint_is_appended():
    with pytest.raises(InvalidParameterError, match=r"must be >= 0; got -1\. Use 0 for none\.$"):
        check_param("epochs", -1, NON_NEGATIVE_INT, hint="Use 0 for none.")


def test_long_values_are_shown_by_type():
    with pytest.raises(InvalidParameterError, match=r"got a ndarray\.$"):
        check_param("n", np.zeros(100), POSITIVE_INT)


def test_check_params_reports_the_first_bad_name_from_a_mapping_or_an_object():
    constraints = {"epochs": (NON_NEGATIVE_INT,), "batch_size": (POSITIVE_INT,)}
    check_params(constraints, {"epochs": 0, "batch_size": 1})
    with pytest.raises(InvalidParameterError, match="'batch_size'"):
        check_params(constraints, {"epochs": 0, "batch_size": 0})

    class Settings:
        epochs = -2
        batch_size = 0

    with pytest.raises(InvalidParameterError, match="'epochs'"):
        check_params(constraints, Settings())


def test_check_option_message_unchanged():
    with pytest.raises(ValueError, match=r"^Invalid value for 'method': allowed are 'a', 'b'; got 'c'\.$"):
        check_option("method", "c", ["a", "b"])
