"""mbops: a mobile app backend on any cloud, from one stack definition."""

__version__ = "0.1.0"
