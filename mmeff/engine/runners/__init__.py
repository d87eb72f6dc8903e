from .dailymae_runner import (DailyMAERunner, dailymae_choice,
                              resolve_dailymae)

__all__ = ['DailyMAERunner', 'dailymae_choice', 'resolve_dailymae']
