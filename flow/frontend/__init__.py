"""The front end every model goes through before hls4ml: :mod:`.graph` (load, clean, checks, channels-last),
:mod:`.host` (the float ops around the accelerator that the host runs), :mod:`.prepare` (the pipeline).
This package module imports nothing."""
