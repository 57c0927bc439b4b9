"""A transparency log as standard tools see it (C2SP): signed notes and checkpoints,
tiles and entry bundles, witness cosignatures; RFC 6962 hashing and proofs. Pure code,
for the audit service and for anyone who watches its log."""
