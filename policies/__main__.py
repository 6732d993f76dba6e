"""The pack's entry point: Pulumi runs ``python -m pulumi.policy <engine> policies`` for
``pulumi up --policy-pack policies``, which executes this file with ``policies/`` on ``sys.path``.

Imports are absolute (``mbops.policies...``): mbops must be installed in the Python Pulumi uses (activate the
venv, or set PULUMI_PYTHON_CMD). ``PolicyPack`` serves the analyzer over gRPC until Pulumi stops it.
"""

from pulumi_policy import PolicyPack

from mbops.policies.pack import pack_args

PolicyPack(**pack_args())
