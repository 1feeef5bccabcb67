"""`replay dlq list | show | redrive | delete`: read the projection's DLQ without consuming it, the records each
message stands for, and project them again."""
