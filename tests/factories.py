import factory

from apps.accounts.models import Role, User
from apps.storage.models import StorageLocation, StorageProvider

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    role = Role.MEMBER
    is_active = True
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class GlobalAdminFactory(UserFactory):
    tenant = None
    role = Role.GLOBAL_ADMIN
    is_staff = True
    is_superuser = True


class StorageLocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StorageLocation

    name = factory.Sequence(lambda n: f"bucket {n}")
    provider = StorageProvider.S3
    config = factory.LazyAttribute(lambda o: {"bucket": o.name.replace(" ", "-"), "region": "eu-west-1"})
