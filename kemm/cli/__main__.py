"""``python -m kemm.cli`` (and ``torchrun --nproc-per-node N -m kemm.cli ...``) runs the ``kemm`` CLI."""

from kemm.cli import main

main()
