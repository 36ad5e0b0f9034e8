"""A stand-in for GIMP 2.10's gimpfu module, enough to run the 2.10 back end.

It keeps images and layers in memory with gimpfu's attribute names and pixel-region
slicing, and records registration, progress and messages. Python 2.7 and 3.
"""

PF_IMAGE, PF_DRAWABLE, PF_LAYER = "PF_IMAGE", "PF_DRAWABLE", "PF_LAYER"
PF_SPINNER, PF_TOGGLE, PF_STRING, PF_OPTION = "PF_SPINNER", "PF_TOGGLE", "PF_STRING", "PF_OPTION"
RGB_IMAGE, RGBA_IMAGE, GRAY_IMAGE, GRAYA_IMAGE = 0, 1, 2, 3
LAYER_MODE_NORMAL = 28
RUN_INTERACTIVE, RUN_NONINTERACTIVE = 0, 1

registered = {}
log = []  # ("message", text), ("progress", ...) ...


def register(proc_name, blurb, help, author, copyright, date, label, imagetypes, params, results,
             function, menu=None):
    registered[proc_name] = dict(blurb=blurb, label=label, imagetypes=imagetypes, params=params,
                                 results=results, function=function, menu=menu)


def _query():
    log.append(("query",))


def _run(proc_name, params):
    return registered[proc_name]["function"](*params[1:])


def main():
    gimp.main(None, None, _query, _run)


class Region(object):
    def __init__(self, layer):
        self.layer = layer

    def __getitem__(self, key):
        assert key[0] == slice(0, self.layer.width) and key[1] == slice(0, self.layer.height)
        return self.layer.data

    def __setitem__(self, key, value):
        assert key[0] == slice(0, self.layer.width) and key[1] == slice(0, self.layer.height)
        assert len(value) == len(self.layer.data)
        self.layer.data = value


class SelectionRegion(object):
    """gimpfu's pixel region of the selection channel: 255 inside the selection's bounds."""

    def __init__(self, image, x, y, width, height):
        assert 0 <= x and 0 <= y and x + width <= image.width and y + height <= image.height
        self.image = image

    def __getitem__(self, key):
        columns, row = key
        x1, y1, x2, y2 = self.image.selection or (0, 0, 0, 0)
        return bytes(bytearray(255 if x1 <= x < x2 and y1 <= row < y2 else 0
                               for x in range(columns.start, columns.stop)))


class Selection(object):
    def __init__(self, image):
        self.image = image

    def get_pixel_rgn(self, x, y, width, height, dirty, shadow):
        return SelectionRegion(self.image, x, y, width, height)


class Image(object):
    _next = [1]

    def __init__(self, width, height, base_type=0):
        self.width, self.height, self.base_type = width, height, base_type
        self.layers = []
        self.selection = None
        self.precision = 150
        self.undo = []
        self.valid = True
        self.ID = Image._next[0]
        Image._next[0] += 1


class Layer(object):
    _next = [1]

    def __init__(self, image, name, width, height, type, opacity, mode):
        self.ID = Layer._next[0]
        Layer._next[0] += 1
        self.children = []
        self.image, self.name, self.width, self.height = image, name, width, height
        self.type = type
        self.bpp = {0: 3, 1: 4, 2: 1, 3: 2}[type]
        self.offsets = (0, 0)
        self.data = b"\0" * (width * height * self.bpp)
        self.mask = None
        self.valid = True
        self.group = False

    @property
    def has_alpha(self):
        return self.type in (1, 3)

    def get_pixel_rgn(self, x, y, width, height, dirty, shadow):
        assert (x, y, width, height) == (0, 0, self.width, self.height)
        return Region(self)

    def set_offsets(self, x, y):
        self.offsets = (x, y)

    def flush(self):
        log.append(("flush", self.name))

    def update(self, x, y, width, height):
        log.append(("update", self.name))


class _Gimp(object):
    Layer = Layer

    def main(self, init, quit, query, run):
        self.run = run

    def message(self, text):
        log.append(("message", text))

    def progress_init(self, text):
        log.append(("progress_init", text))

    def progress_update(self, fraction):
        log.append(("progress_update", fraction))

    def displays_flush(self):
        log.append(("displays_flush",))


class _Pdb(object):
    def gimp_progress_set_text(self, text):
        log.append(("progress_text", text))

    def gimp_item_is_valid(self, item):
        return item.valid and item.image.valid

    def gimp_item_is_layer(self, item):
        return isinstance(item, Layer)

    def gimp_item_is_layer_mask(self, item):
        return False

    def gimp_item_is_group(self, item):
        return item.group

    def gimp_item_is_text_layer(self, item):
        return False

    def gimp_image_get_precision(self, image):
        return image.precision

    def gimp_item_get_parent(self, item):
        return None

    def gimp_image_get_item_position(self, image, item):
        return image.layers.index(item)

    def gimp_image_insert_layer(self, image, layer, parent, position):
        image.layers.insert(position, layer)
        image.undo.append(("insert", layer.name))

    def gimp_image_remove_layer(self, image, layer):
        image.layers.remove(layer)
        layer.valid = False
        image.undo.append(("remove", layer.name))

    def gimp_item_set_name(self, item, name):
        item.name = name

    def gimp_image_get_selection(self, image):
        return Selection(image)

    def gimp_selection_bounds(self, image):
        if image.selection is None:
            return (0, 0, 0, image.width, image.height)
        return (1,) + tuple(image.selection)

    def gimp_image_undo_group_start(self, image):
        image.undo.append("start")

    def gimp_image_undo_group_end(self, image):
        image.undo.append("end")


gimp = _Gimp()
pdb = _Pdb()
