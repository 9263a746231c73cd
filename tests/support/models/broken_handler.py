"""A handler that fails at load, like a model whose weights do not match its code."""

from ts.torch_handler.base_handler import BaseHandler


class BrokenHandler(BaseHandler):
    def initialize(self, context):
        raise RuntimeError("broken on purpose: cannot load weights")
