"""plans.jsontext: orjson's text reads back as what the standard library's would."""

import datetime
import json
import random

import numpy as np
import pytest

from plans import jsontext


def test_text_reads_back_as_the_standard_librarys_does():
    rng = random.Random(3)
    value = {
        "as_of": "2025-06-30",
        "floats": [rng.uniform(-1e15, 1e15) for _ in range(200)] + [0.1, 1e-7, -0.0, 2.0, 1 / 3],
        "ints": [0, -1, 2**53 + 1, 2**63 - 1],
        "text": '数据 "quoted" \\ \n',
        "nested": {"none": None, "flags": [True, False], "tuple": (1, 2), 2025: "a year as a key"},
    }
    text = jsontext.dumps(value)
    assert jsontext.loads(text) == json.loads(json.dumps(value)) == json.loads(text)
    assert jsontext.loads(json.dumps(value)) == json.loads(json.dumps(value))


def test_numpy_numbers_are_written_as_the_plain_numbers_they_are():
    assert json.loads(jsontext.dumps({"a": np.float64(1.25), "b": np.int64(7)})) == {"a": 1.25, "b": 7}


def test_a_value_json_cannot_hold_is_refused():
    with pytest.raises(TypeError):
        jsontext.dumps({"day": datetime.date(2025, 1, 1)})
