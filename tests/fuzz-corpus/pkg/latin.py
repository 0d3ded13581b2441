# -*- coding: latin-1 -*-
NAME = "été"


def f():
    import os
    return os.sep + NAME
