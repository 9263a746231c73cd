"""Test support that plays parts of a cluster which these machines lack (see :mod:`.kubelet`)."""
