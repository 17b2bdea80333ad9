from creativeflow.services.aigeneration.application.model_selector import ModelRoute, ModelSelector
from creativeflow.services.aigeneration.composition.adapters import model_selector
from creativeflow.services.aigeneration.core.config import load_settings
from creativeflow.services.aigeneration.domain.formats import Dimensions
from creativeflow.services.aigeneration.domain.models import JobType
from creativeflow.services.aigeneration.domain.pricing import SubscriptionTier as Tier

SAMPLE, FINAL_4K, FINAL_STD = Dimensions(512, 512), Dimensions(3840, 3840), Dimensions(1080, 1080)


def test_the_default_routes_pick_a_fast_model_for_samples_and_an_upscaler_for_4k() -> None:
    selector = model_selector(load_settings(_env_file=None, ENABLE_ADVANCED_MODEL_SELECTOR=True))
    assert selector.choose(Tier.FREE, JobType.SAMPLES, SAMPLE) == "sdxl-turbo"
    assert selector.choose(Tier.FREE, JobType.FINAL, FINAL_4K) == "sdxl-refiner+esrgan-4x"
    assert selector.choose(Tier.PRO, JobType.FINAL, FINAL_STD) == "sdxl-1.0"


def test_switched_off_every_job_gets_the_default_model() -> None:
    selector = model_selector(load_settings(_env_file=None))
    assert selector.choose(Tier.PRO, JobType.FINAL, FINAL_4K) == "creativeflow-diffusion-v1"


def test_routes_can_depend_on_the_tier_and_fall_back_to_the_default() -> None:
    routes = (ModelRoute("premium", JobType.FINAL, frozenset({Tier.ENTERPRISE})),)
    selector = ModelSelector("basic", routes, enabled=True)
    assert selector.choose(Tier.ENTERPRISE, JobType.FINAL, FINAL_STD) == "premium"
    assert selector.choose(Tier.FREE, JobType.FINAL, FINAL_STD) == "basic"
    assert selector.choose(Tier.ENTERPRISE, JobType.SAMPLES, SAMPLE) == "basic"
