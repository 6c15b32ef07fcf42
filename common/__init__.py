"""What the console's apps share, below all of them: the project shell (console/) imports these, and so do
garage, models_app and training, but nothing here imports an app or the shell.

broadcast.py   publish(group, event, payload): push to browsers from anywhere, workers included
consumers.py   GroupForwardConsumer: the websocket consumer that checks access, joins one group, forwards
envvars.py     settings from the environment (env_bool, env_int, env_list, ...), failing loudly
ranges.py      files served with HTTP Range requests (seekable videos)
"""
