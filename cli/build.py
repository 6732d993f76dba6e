"""``mbops build``: build the app's image from ``app.build`` with Docker, without deploying it."""

from __future__ import annotations

import logging

import click

from mbops.cli.options import StackRef, stack_options
from mbops.cli.render import echo_json
from mbops.errors import ConfigError, DeployError


@click.command()
@stack_options
@click.option("--json", "as_json", is_flag=True, help="Print the image (id, tag, context digest) as JSON.")
def build(ref: StackRef, as_json: bool) -> None:
    """Build the app's image from its Dockerfile (app.build) and tag it; nothing is pushed or deployed.

    The tag is a hash of the build context's content (the files .dockerignore keeps) and the build settings,
    so an unchanged build gives the same tag, and `mbops up` pushes and deploys it by digest. Build output streams here;
    a failed build shows its last lines and exits 1. MBOPS_BUILD_NETWORK sets the build's network (e.g. host).

    \b
    Examples:
      mbops build -f stack.yaml
      mbops build --cloud aws --profile managed      # the example app (the clouds' default build)
    """
    from mbops.components.image import BuildFailed, build_and_push, context_digest

    stack = ref.stack
    spec = stack.app.build
    if spec is None:
        where = f"{stack.source}: " if stack.source != "flags" else ""
        raise ConfigError(f"{where}app.build: the stack has no build (it runs app.image or, locally, app.command)")
    props = {"context": spec.context, "dockerfile": spec.dockerfile, "target": spec.target, "args": spec.args,
             "platform": spec.platform, "context_digest": context_digest(spec), "repository": None}  # fmt: skip
    handler = _EchoHandler(err=as_json)
    logging.getLogger("mbops.image").addHandler(handler)
    logging.getLogger("mbops.image").setLevel(logging.INFO)
    try:
        image = build_and_push(props)
    except BuildFailed as exc:
        raise DeployError(str(exc)) from None
    finally:
        logging.getLogger("mbops.image").removeHandler(handler)
    result = {"stack": stack.name, "image_id": image["image_id"], "tag": image["tag"],
              "context": spec.context, "context_digest": props["context_digest"]}  # fmt: skip
    if as_json:
        echo_json(result)
    else:
        click.echo(f"built {image['tag']} ({image['image_id']}) from {spec.context}")


class _EchoHandler(logging.Handler):
    """Build output line by line (to stderr when the command prints JSON)."""

    def __init__(self, *, err: bool) -> None:
        super().__init__()
        self.err = err

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"  {record.getMessage()}", err=self.err)
