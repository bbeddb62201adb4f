"""The runtime core that generated code calls into.

Dependencies run one way: the public facade (`etcdgen/`) composes the
generated clients (`etcdgen/generated/`), which use only this package.
Nothing here imports generated code; what it needs from it (the error
table) is passed in.
"""
