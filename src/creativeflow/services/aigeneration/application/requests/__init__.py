"""The user's moves: start generating (one request or a batch), the creative moves on a request
(select a sample for a final, regenerate, vary), cancel and delete, and the reads of the
user's requests. Each use case is a class that takes only the ports it uses."""
