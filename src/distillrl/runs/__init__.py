"""Commands as data (train, kickstart, distill, ...), the one run loop, run directories, summaries."""
