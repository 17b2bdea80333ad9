"""n8n's results: the samples, the final, an error, and its question whether a job still
matters. A result is applied once, in one visible transaction with its receipt."""
