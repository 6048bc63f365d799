"""培训档案: the training archive of a cadre, and exports of a unit's archives."""
