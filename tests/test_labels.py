"""Val file-name parsing: the vectorised form against a regex reference."""

import re

import numpy as np
import pytest

from tfds_bench import labels

_REFERENCE = re.compile(r"^ILSVRC2012_val_([0-9]{8})\.JPEG$")


def test_val_file_numbers_equal_the_regex_reading():
  rng = np.random.default_rng(0)
  numbers = rng.integers(1, 50001, 500)
  names = [f"ILSVRC2012_val_{n:08d}.JPEG" for n in numbers]
  names[1] = "n01440764/" + names[1]  # folders are ignored
  names[2] = "a/b/" + names[2]
  expected = [int(_REFERENCE.match(n.rsplit("/", 1)[-1]).group(1)) for n in names]
  got = labels.val_file_numbers(names)
  assert got.dtype == np.int64
  np.testing.assert_array_equal(got, expected)
  assert labels.val_file_number(names[2]) == expected[2]
  assert labels.val_file_numbers([]).shape == (0,)


@pytest.mark.parametrize("bad", [
    "ILSVRC2012_val_0000001.JPEG",    # 7 digits
    "ILSVRC2012_val_000000001.JPEG",  # 9 digits
    "ILSVRC2012_val_0000000a.JPEG",
    "ILSVRC2012_val_00000001.jpeg",
    "ILSVRC2012_test_0000001.JPEG",
    "ILSVRC2012_val_00000001.JPEG/",
    "",
])
def test_a_name_that_is_not_a_val_file_is_named_in_the_error(bad):
  names = ["ILSVRC2012_val_00000001.JPEG", bad]
  with pytest.raises(ValueError, match=re.escape(repr(bad))):
    labels.val_file_numbers(names)


def test_real_labels_for_reads_by_file_number():
  names = ["ILSVRC2012_val_00000003.JPEG", "x/ILSVRC2012_val_00050000.JPEG"]
  table = labels.real_labels()
  assert labels.real_labels_for(names) == [table[2], table[49999]]
