"""mbops policies: the rules (``rules_*.py``), the offline checker (``check.py``) and the CrossGuard pack
(``pack.py``, ``__main__.py``, ``PulumiPolicy.yaml``). See README.md for the rules."""
