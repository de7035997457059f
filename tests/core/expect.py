"""What a failing engine call must say: its status and the words its message must name."""

import pytest

from hybridge.core import STATUS, HybridgeError


def raises(status: str, *words: str):
    """Context manager: expect HybridgeError with this status and all words in the message."""

    class Check:
        def __enter__(self):
            self.ctx = pytest.raises(HybridgeError)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self.ctx.__exit__(*exc)
            err = self.info.value
            assert err.name == status and err.status == STATUS[status], str(err)
            for w in words:
                assert w in err.message, f"{w!r} not in {err.message!r}"
            return handled

    return Check()
