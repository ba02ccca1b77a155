"""The send pipeline, one module per stage; `events` is the hook other apps listen on."""
