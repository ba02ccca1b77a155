import django.db.models.deletion
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('kinds_app', '0002_default_categories'),
        ('logs_app', '0005_recipient_index'),
        ('templates_app', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='Trigger',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('kind_key', models.CharField(help_text="The kind's key when triggered (kept if it is deleted).", max_length=100)),
                ('client', models.CharField(blank=True, default='', max_length=64)),
                ('idempotency_key', models.CharField(blank=True, max_length=255, null=True)),
                ('request_hash', models.CharField(blank=True, default='', help_text='A digest of the request: a repeated key must come with the same one.', max_length=64)),
                ('cancellation_key', models.CharField(blank=True, max_length=255, null=True)),
                ('priority', models.CharField(choices=[('normal', 'Normal'), ('urgent', 'Urgent (ignores quiet hours)')], default='normal', max_length=10)),
                ('send_at', models.DateTimeField(blank=True, null=True)),
                ('recipients', models.PositiveIntegerField(default=0)),
                ('accepted', models.PositiveIntegerField(default=0)),
                ('suppressed', models.PositiveIntegerField(default=0)),
                ('failed', models.PositiveIntegerField(default=0)),
                ('cancelled_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'db_table': 'notification_triggers',
                'ordering': ['-created_at'],
            },
        ),
        migrations.AddField(
            model_name='notificationlog',
            name='trigger_id',
            field=models.UUIDField(blank=True, help_text='The trigger of a kind it belongs to.', null=True),
        ),
        migrations.AddField(
            model_name='trigger',
            name='kind',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='triggers', to='kinds_app.notificationkind'),
        ),
        migrations.AddIndex(
            model_name='trigger',
            index=models.Index(condition=models.Q(('cancellation_key__isnull', False)), fields=['client', 'cancellation_key'], name='ix_triggers_cancellation'),
        ),
        migrations.AddConstraint(
            model_name='trigger',
            constraint=models.UniqueConstraint(condition=models.Q(('idempotency_key__isnull', False)), fields=('client', 'idempotency_key'), name='notification_triggers_key_unique'),
        ),
    ]
