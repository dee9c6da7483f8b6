"""`rnnkit serve`: a local web page over the name, melody (and free-text) models.

    rnnkit.serve.schemas    what each endpoint accepts, with the bounds on every number and length
    rnnkit.serve.app        the Starlette app: thin handlers over the Python API the CLI calls, security headers
    rnnkit.serve.text       the free-text hook: a generator function that yields the text in chunks
    rnnkit.serve.server     `rnnkit serve`: load the models, bind the socket, run uvicorn
    rnnkit.serve.static     the page: index.html, app.css, app.js (no build step, nothing fetched from outside)

Starlette, pydantic and uvicorn come with the optional extra `serve` (pip install 'rnnkit[serve]'); only `rnnkit serve`
imports them.
"""

EXTRA_HINT = "rnnkit serve needs the serve extra: pip install 'rnnkit[serve]'"
