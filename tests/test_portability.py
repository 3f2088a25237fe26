"""Every stored output holds on other numeric backends: strict nbval of the whole book under each row of the matrix.

The plain nbval run of `make test` checks this machine's own backend; these runs check the CPU kernels, BLAS cores,
numpy loops and thread counts that other readers' machines pick (tests/backends.py lists them and says why).
"""
import pytest

import backends


@pytest.mark.parametrize("row", backends.matrix(), ids=backends.label)
def test_stored_outputs_hold_under_backend(row):
    returncode, failed, output = backends.run_nbval(row)
    assert returncode == 0 and "passed" in output, (
        f"under {backends.label(row)}, strict nbval fails on {failed or 'the run itself'}: an output depends on the "
        f"numeric backend. Print or glue it rounded to digits that hold everywhere (see tests/backends.py); "
        f"nbval's report:\n{output[-3000:]}")
