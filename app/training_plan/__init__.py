"""Annual training plans (年度培训计划) and their planned classes."""
