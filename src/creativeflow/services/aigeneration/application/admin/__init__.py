"""What operators do by hand (contract §8): re-drive dead-lettered jobs and given-up
deliveries (deliveries.py); refund a step, fail a stuck request, erase a user (requests.py).
Each action is written to the audit log in the transaction of its effect."""
