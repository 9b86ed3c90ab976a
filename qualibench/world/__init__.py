"""The demo world: loopback mail servers, a brand web site, a fake X API, simulated brands."""

from .brands import PERSONALITIES, Personality, SimBrand, make_brands
from .core import DemoWorld, add_business_time
from .smtp import Delivery

__all__ = ["PERSONALITIES", "Delivery", "DemoWorld", "Personality", "SimBrand",
           "add_business_time", "make_brands"]
