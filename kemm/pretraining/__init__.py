"""Knowledge-augmented vision-language pre-training: objectives, data, the task, ``pretrain``."""
