"""What every replica runs every few seconds: the recovery of interrupted steps, the deadline of
jobs in flight, and retention. Each change takes the request's row lock, so replicas never
clash."""
