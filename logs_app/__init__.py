"""The delivery log (audit trail of every attempt) and the send pipeline that moves a log through its states."""
