"""gunicorn settings of the reference AI service in the benchmark (not the gateway's).

Two processes (the AI's Pillow and JSON work would otherwise share one GIL) with 64 threads
each: its artificial delay is a ``time.sleep`` that holds a thread, and the 32-connection
diagnosis soak keeps up to 96 calls open at once (quality, prediction and red flags per
diagnosis). With 128 threads the AI never queues a call, so it is not the bottleneck of the
"direct" baseline: that baseline reaches connections / delay requests per second.
"""

worker_class = "gthread"
workers = 2
threads = 64
keepalive = 75  # longer than the gateway's pooled connections stay idle between cells
timeout = 120
accesslog = None
errorlog = "-"
loglevel = "warning"
control_socket_disable = True
worker_tmp_dir = "/dev/shm"
