"""The common layer every part imports: config loading, product classes, geometry and the line schema,
YOLO boxes, MOT files, file hashing and atomic writes, the capture layout. It imports no other part."""
