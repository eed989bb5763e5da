"""Speech corpora for asrlab: the offline corpus and converters for real recordings.

Submodules are imported on use; importing this package does no work.
"""
