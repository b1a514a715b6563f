"""`python -m llama_cpp.server` for the remote-engine tests, its model loaded with the CPU
kernels the probe allows on this host: the stand-in for a remote machine must not die by
SIGILL on an AMX VM any more than Focal may (`inference.cpu_check`)."""

import runpy

from inference import cpu_check
from inference.offload import FLASH_ATTN_OFF, LoadOptions

if __name__ == "__main__":
    # The server loads its model on this thread before serving; flash attention stays off,
    # as the server's own default.
    options = LoadOptions(flash_attn=FLASH_ATTN_OFF, extra_bufts=cpu_check.decide().extra_bufts)
    with options.applied():
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
