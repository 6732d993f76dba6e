"""mbops: a mobile app backend on any cloud, from one stack definition."""

__version__ = "0.1.0"
PULUMI_PROJECT = "mbops"  # the Pulumi project every engine runs the program as (Pulumi.yaml's name)
