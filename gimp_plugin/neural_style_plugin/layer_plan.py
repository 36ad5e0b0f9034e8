"""Which layers a run paints ("Apply to"): the active layer, every layer of its group, or
every layer of the image. Layer groups are not painted (their layers are, nested groups
included) and neither are the style layers. The order is bottom to top, GIMP's order of
animation frames, so "start each layer from the previous result" follows the frames.
Python 2.7 and 3, standard library only.
"""

from __future__ import absolute_import

from .procedure import APPLY_GROUP, APPLY_IMAGE
from .shim import KIND_GROUP


class PlanError(Exception):
    """No layers to paint; the message is for people."""


def _leaves(host, image, group):
    """Non-group layers under group (None: the whole image), top first, depth first."""
    found = []
    for layer in host.children(image, group):
        if host.layer_info(layer).kind == KIND_GROUP:
            found.extend(_leaves(host, image, layer))
        else:
            found.append(layer)
    return found


def layers_to_paint(host, image, active, apply_to, styles):
    """The layers to paint, bottom first; the active layer alone unless apply_to says more."""
    if apply_to == APPLY_IMAGE:
        group, where = None, "the image"
    elif apply_to == APPLY_GROUP:
        info = host.layer_info(active)
        group = active if info.kind == KIND_GROUP else host.parent_of(active)
        if group is None:
            raise PlanError("\"Apply to: every layer of its group\" needs the active layer \"%s\" to be "
                            "in a layer group (or to be one). Choose \"every layer of the image\", or "
                            "select a layer inside a group." % info.name)
        where = "the group \"%s\"" % host.layer_info(group).name
    else:
        return [active]
    layers = [layer for layer in _leaves(host, image, group)
              if not any(host.same_item(layer, style) for style in styles)]
    if not layers:
        raise PlanError("There is no layer to paint in %s (layer groups and the style layers are "
                        "not painted)." % where)
    layers.reverse()
    return layers
