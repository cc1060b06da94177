"""The replay buffer: ring storage, FIFO writer, samplers, and the facade over them."""
