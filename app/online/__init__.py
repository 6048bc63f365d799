"""Online academies (干部网络学院): platforms, their conversion to 学时, learner matching and the
import of their records as `online_course` study logs (docs/rules.md, "Online academies")."""
