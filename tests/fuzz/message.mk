# fuzz targets of message/ (header, mime)
