"""COCO class names by the 1-based ids the TF Object Detection API SSD models emit."""

from __future__ import annotations

_NAMES = (
    "person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant - "
    "stop_sign parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe - "
    "backpack umbrella - - handbag tie suitcase frisbee skis snowboard sports_ball kite "
    "baseball_bat baseball_glove skateboard surfboard tennis_racket bottle - wine_glass cup fork "
    "knife spoon bowl banana apple sandwich orange broccoli carrot hot_dog pizza donut cake chair "
    "couch potted_plant bed - dining_table - - toilet - tv laptop mouse remote keyboard "
    "cell_phone microwave oven toaster sink refrigerator - book clock vase scissors teddy_bear "
    "hair_drier toothbrush"
)

COCO: dict[int, str] = {
    i + 1: name.replace("_", " ") for i, name in enumerate(_NAMES.split()) if name != "-"
}


def coco_name(class_id: int) -> str:
    return COCO.get(class_id, f"class_{class_id}")
